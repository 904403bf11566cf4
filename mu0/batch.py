"""The keys of the batches every trace model, dataset, evaluation and server shares, with their shapes.

b batch, n query points, h horizon steps, p history steps, H×W the image, c action chunk, a action dim,
q proprio dim. Points are in unit image coordinates (x, y in [-1, 1], pixel centres at integers as in
`traces.normalize.to_unit_uv`); future and history are anchor-relative deltas in DeltaStats-normalised units.
"""

# what a trace model reads (μ_0, the baselines, serving)
IMAGE = "image"  # (b,3,H,W) uint8 RGB of the query frame
INSTRUCTION = "instruction"  # list of b strings
DEPTH = "depth"  # (b,1,H,W) float32 metres, NaN where unknown; only for models that read depth
POINTS_UV = "points_uv"  # (b,n,2) float32 query points
POINT_MASK = "point_mask"  # (b,n) bool: a real point, not padding
HISTORY = "history"  # (b,n,p,3) float32 past deltas (scaled by DeltaStats.history_unit)
HISTORY_VALID = "history_valid"  # (b,n,p) bool

# what training and scoring add
FUTURE = "future"  # (b,n,h,3) float32 normalised future deltas (the target)
FUTURE_VALID = "future_valid"  # (b,n,h) bool
TRAINABLE = "trainable"  # (b,n) bool: enough valid future steps to enter the flow loss
IS_MOVING = "is_moving"  # (b,n) bool: the extractor (or the simulator) labels the point moving
CLUSTER_IDS = "cluster_ids"  # (b,n) int64 motion cluster of the point
Z_VALID = "z_valid"  # (b,) bool: the third axis is metric depth
POINTS_Z = "points_z"  # (b,n) float32 the query points' depth in metres (0 where unknown)
INTRINSICS = "intrinsics"  # (b,3,3) float32 the query frame's pinhole K (NaN without cameras)
FRAME = "frame"  # (b,) int64 query frame index within its episode
EPISODE = "episode"  # (b,) int64 the episode's index in its dataset

# what an action expert reads and learns
PROPRIO = "proprio"  # (b,q) float32 robot state at the query frame
WRIST_IMAGE = "wrist_image"  # (b,3,H,W) uint8 the wrist camera's frame (policies with wrist tokens)
HAND_UV = "hand_uv"  # (b,2) float32 the hand's pixel in unit coordinates (policies with hand queries)
ACTIONS = "actions"  # (b,c,a) float32 the chunk of actions from the query frame on
ACTION_VALID = "action_valid"  # (b,c) bool: the step lies inside the episode
