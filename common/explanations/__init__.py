"""Explanations: Grad-CAM through each model's geometry, the videos, the plots and views of a trained
network, and how faithful each map is. Imports data, networks and runs."""
