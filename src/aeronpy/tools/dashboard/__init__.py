"""The live dashboard (``aeronpy dashboard``): server, sampler and the page's static assets."""
