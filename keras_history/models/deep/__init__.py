"""The deep-learning revival (2010–2015): what made deep fully connected nets train
well — careful initialisation and rectifiers, dropout with max-norm, batch normalization."""
