"""Headless trainers: `python -m training.run MODEL ...` (see training/run.py).

Never imports streamlit or gradio: it must run on a GPU box that has only torch, torchvision,
numpy, scikit-learn, huggingface_hub and safetensors.
"""
