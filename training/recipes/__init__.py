"""What `training.run` knows about each model: one recipe class per family, in
training/recipes/<family>.py, implementing training/recipes/base.py. To add a family, write its
recipe module and add its classes to the list below."""
from training.recipes.base import FLAGS, Recipe
from training.recipes.classifier import ClassifierRecipe
from training.recipes.diffusion import DDPMRecipe, FlowMatchingRecipe
from training.recipes.ebm import ConditionalEBMRecipe, EBMRecipe, JEMPPRecipe, JEMRecipe
from training.recipes.flow import FlowPriorVAERecipe, RealNVPRecipe
from training.recipes.gan import ConditionalGANRecipe, GANRecipe, WGANGPRecipe, WGANRecipe
from training.recipes.vae import VAERecipe
from training.recipes.vqvae import VQVAERecipe

RECIPES: dict[str, type[Recipe]] = {r.name: r for r in [VAERecipe, GANRecipe, WGANRecipe, WGANGPRecipe,
                                                          ConditionalGANRecipe, ClassifierRecipe, RealNVPRecipe,
                                                          FlowPriorVAERecipe, EBMRecipe, ConditionalEBMRecipe,
                                                          JEMRecipe, JEMPPRecipe, VQVAERecipe, DDPMRecipe,
                                                          FlowMatchingRecipe]}

__all__ = ["FLAGS", "RECIPES", "Recipe"]
