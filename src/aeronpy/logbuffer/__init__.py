"""Log buffers: layout, appenders, readers."""
