"""The dispatcher: from a matched customer to one outcome per channel (spec section 5)."""
