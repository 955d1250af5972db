"""What every domain shares: the clock, errors, ids, keys, pages, and who is asking."""
