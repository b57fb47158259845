// StreamDiffVSR module (see README).
