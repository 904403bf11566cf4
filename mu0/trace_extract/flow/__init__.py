"""A learned dense optical flow for TraceExtract, trained on simulator ground truth (the correspondences a
simulator gives for free), read by `LearnedFlowTracker` the way DIS flow is read by `DenseFlowTracker`."""
