"""Networks: the registry every checkpoint rebuilds from, the CNN, the spiking neurons and networks
(spiking CNN, spiking LSTM, LIF/ALIF), the objectives that turn outputs into a loss and a class, and the
spiking CNN's convolution layout. Imports nothing of the study above it."""
