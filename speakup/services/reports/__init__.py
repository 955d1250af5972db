"""Reports: intake, their history, who may see and do what, and the views of each side."""
