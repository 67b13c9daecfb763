"""Text to clip: the pipeline (check inputs, render, motion, audio, watermark, encode) and its backends."""
