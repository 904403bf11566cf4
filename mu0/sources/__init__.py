"""Sources of raw episodes: Meta-World rollouts, video files, S3 prefixes (one small job interface)."""
