"""The study: the LIF/ALIF grid and the N-MNIST fold study, the comparison across every model
(NeuroBench's metrics, energy), the README report, notebook 02's steps in one call (``walkthrough``), and
the command that runs every notebook (``python -m common.study``). Imports every wing below it."""
