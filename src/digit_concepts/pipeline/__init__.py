"""What each DVC stage computes, composed from the layers below (its script in stages/ only reads, calls
and writes)."""
