"""DGM Lab's library: data, models, objectives, samplers, metrics, figures and checkpoints.

It never imports streamlit or gradio: the pages, the Space and the trainers import it.
"""
__version__ = "0.1.0"
