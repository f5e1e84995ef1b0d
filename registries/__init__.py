"""The stack config as one client of the component library: validated spec -> component args -> program."""
