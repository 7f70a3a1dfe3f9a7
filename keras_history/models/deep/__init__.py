"""The deep-learning revival (2006–2015): what made deep fully connected nets train
well — deep belief nets' greedy RBM pretraining, careful initialisation and rectifiers,
dropout with max-norm, batch normalization."""
