"""The wire layer (torch-free): every message either side sends, the protocol's codes and limits,
audio decoding, and the one definition of each unit. Clients install and use this layer alone."""
