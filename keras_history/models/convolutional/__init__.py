"""The convolutional era: networks that read images through learned local filters."""
