"""LoRA file tools for Z-Image: read any common trainer's layout, inspect, re-weight, merge,
resize, convert, and hand the result to ComfyUI. No Qt; torch and safetensors are imported
inside the functions that need them.

    from training.lora.io import load_lora, save_lora      # any format in, any format out
    from training.lora.inspect import inspect_lora         # ranks, facts, per-block norms
    from training.lora.ops import scale_lora, merge_loras, resize_lora, MergeInput
    from training.lora.weights import Weights, load_presets
    from training.lora.comfyui import build_workflow, send_to_comfyui

Formats and the internal form: ``training.lora.formats`` and ``training.lora.model``.
"""
