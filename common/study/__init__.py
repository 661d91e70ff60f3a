"""The study: the LIF/ALIF grid and the N-MNIST fold study, the comparison across every model
(NeuroBench's metrics, energy), the README report, and the command that runs every notebook
(``python -m common.study``). Imports every wing below it."""
