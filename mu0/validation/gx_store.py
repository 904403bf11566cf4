"""The validation results store of mu0's GX project: GX's own, except that numpy scalars are written as plain
JSON. GX 1.24 under marshmallow 4 leaves numpy booleans in a result's `success` (the column-range and quantile
expectations make them), which `json` cannot write, so the stock store fails to save those results.

GX itself imports this module (great_expectations.yml names it), never mu0's code at import time."""

from __future__ import annotations

import json

from great_expectations.data_context.store import ValidationResultsStore


def _plain(value):
    """numpy scalars → their Python value; anything else json cannot write is an error, as in GX."""
    if hasattr(value, "item") and type(value).__module__ == "numpy":
        return value.item()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


class PlainJsonValidationResultsStore(ValidationResultsStore):
    def serialize(self, value):
        if self.cloud_mode:
            return super().serialize(value)
        data = self._expectationSuiteValidationResultSchema.dump(value.to_json_dict())
        return json.dumps(data, indent=2, sort_keys=True, default=_plain)
