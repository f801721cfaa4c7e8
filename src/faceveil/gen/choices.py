"""Names the command line validates before it loads torch."""

RESOLUTIONS = (32, 64, 128)  # generator output sides faceveil can build
ARCH_NAMES = ("dcgan", "vae")  # the keys of faceveil.gen.registry.ARCHS; what `train --arch` takes
INVERT_METHODS = ("auto", "encoder", "optimize", "encoder+optimize")
