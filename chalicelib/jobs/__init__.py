"""Jobs: long work (backup, restore, import, export) run as steps from a queue, with progress."""
