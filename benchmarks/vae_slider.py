"""How fast one latent-slider move renders: decode E[x|z] for one z and build the figure the page
shows, serialised to JSON as Streamlit and Gradio send it to the browser.

Two routes, timed in the same run on the same model and latent points:
  ours       dgm_core.figures.vae.image_grid_figure (one Heatmap trace of the image)
  reference  plotly.express.imshow, the usual way to show an image with plotly
and the whole-page rerun of labs/vae.py under Streamlit's AppTest after a slider change.
The budget for a slider move is 50 ms on 2 CPU cores.

    python -m benchmarks.vae_slider [--checkpoint vae-digits-beta1] [--repeats 50]
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch

from dgm_core.checkpoints import load_checkpoint
from dgm_core.figures.images import image_grid_figure

BUDGET_MS = 50.0


def _median_ms(fn, repeats: int) -> float:
    fn()                                     # warm-up (first call allocates)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def measure(checkpoint: str = "vae-digits-beta1", repeats: int = 50, with_page: bool = True) -> dict[str, float]:
    model = load_checkpoint(checkpoint).model
    torch.manual_seed(0)
    points = iter(torch.randn(10 * repeats + 10, 1, model.latent_dim).clamp(-3, 3))

    def ours():
        with torch.no_grad():
            image = model.decode_mean(next(points))
        return image_grid_figure(image, 1, "decoded E[x | z]", height=330).to_json()

    def reference():
        import plotly.express as px

        with torch.no_grad():
            image = model.decode_mean(next(points))
        return px.imshow(image[0, 0].numpy(), color_continuous_scale="gray", zmin=0, zmax=1).to_json()

    def decode_only():
        with torch.no_grad():
            return model.decode_mean(next(points))

    result = {"decode": _median_ms(decode_only, repeats), "ours": _median_ms(ours, repeats),
              "reference": _median_ms(reference, repeats)}
    if with_page:
        from streamlit.testing.v1 import AppTest

        at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "app.py"), default_timeout=120)
        at.run()
        at.switch_page("labs/vae.py").run()
        slider = next(s for s in at.slider if s.key and s.key.startswith("vae_z"))
        values = iter([round(v, 2) for v in torch.linspace(-2.9, 2.9, 2 * repeats + 2).tolist()])
        result["page rerun"] = _median_ms(lambda: slider.set_value(next(values)).run(), max(5, repeats // 5))
    return result


def rows(quick: bool = False) -> list[dict]:
    """The table rows of `python -m benchmarks`: ms per slider move, ours against px.imshow, and the
    whole-page rerun under AppTest against the figure route."""
    r = measure(repeats=10 if quick else 50, with_page=not quick)
    out = [{"benchmark": "vae_slider", "measure": "slider move: decode + figure + JSON", "ours": r["ours"],
            "reference": r["reference"], "unit": "ms", "reference_name": "plotly.express.imshow",
            "ratio": r["reference"] / r["ours"]}]
    if "page rerun" in r:
        out.append({"benchmark": "vae_slider", "measure": "whole VAE page rerun (AppTest) vs one slider move",
                    "ours": r["ours"], "reference": r["page rerun"], "unit": "ms",
                    "reference_name": "page rerun", "ratio": r["page rerun"] / r["ours"]})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default="vae-digits-beta1")
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    r = measure(args.checkpoint, args.repeats)
    print(f"slider move on {args.checkpoint} (median of {args.repeats}, torch threads {torch.get_num_threads()}):")
    print(f"  decode only                          {r['decode']:7.2f} ms")
    print(f"  decode + figure + JSON, ours         {r['ours']:7.2f} ms   ({BUDGET_MS / r['ours']:.1f}x inside the 50 ms budget)")
    print(f"  decode + figure + JSON, px.imshow    {r['reference']:7.2f} ms   (ours is {r['reference'] / r['ours']:.1f}x faster)")
    print(f"  whole page rerun under AppTest       {r['page rerun']:7.2f} ms   ({r['page rerun'] / r['ours']:.1f}x the figure route)")


if __name__ == "__main__":
    main()
