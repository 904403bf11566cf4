"""A model folder ("bundle"): the weights, their config and the processor that feeds and reads them.

`files` names every file a model or policy folder holds (and imports nothing, so every layer may use
it); `trace_bundle` and `policy_bundle` save such folders atomically and load them with their processor.
"""
