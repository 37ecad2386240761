"""Plotly figure builders shared by the Streamlit pages and the Gradio Space, one module per lab."""
