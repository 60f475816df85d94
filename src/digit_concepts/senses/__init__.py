"""What each sense perceives: the raw data, recordings and pictures (the pipeline's and a user's), digits
drawn and heard differently, the episode stream, and one autoencoder per sense."""
