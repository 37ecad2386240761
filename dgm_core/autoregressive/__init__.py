"""Autoregressive models: p(x) as a product of conditionals in a fixed order, each computed in one masked pass.

made.py       MADE (Germain et al. 2015): masked fully connected layers from an ordering, order-agnostic training
pixelcnn.py   PixelCNN with masks A and B, and the gated PixelCNN with vertical and horizontal stacks (van den Oord
              et al. 2016); exact log-likelihood, sequential sampling (with a window that computes only what a pixel
              depends on), the receptive field by autograd and the blind spot it leaves
"""
