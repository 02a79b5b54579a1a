"""What every layer may import: the config reader, general file helpers and the names of the output files."""
