"""One module of page routes per area of the app; ``web.router`` gathers them."""
