"""Explanations: Grad-CAM through each model's geometry, the videos, the plots and views of a trained
network, and notebook 02's steps in one call. Imports data, networks and runs."""
