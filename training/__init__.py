"""Z-Image-Turbo LoRA trainer. Runs headless in its own process (``python -m training``).

Never imports Qt or ``desktop``; torch and friends are imported lazily.
"""
