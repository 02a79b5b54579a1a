"""The models the pipeline pushed: their versioned folder (TensorFlow Serving's layout) and in-process calls of one."""
