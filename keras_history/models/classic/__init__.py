"""The classics (1805–1986): least squares, gradient descent, linear regression,
the perceptron and backpropagation, each trained by its own hand-written rule."""
