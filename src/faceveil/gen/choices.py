"""Names the command line validates before it loads torch."""

RESOLUTIONS = (32, 64, 128)  # generator output sides faceveil can build
ARCH_NAMES = ("dcgan", "vae")  # the keys of faceveil.gen.registry.ARCHS
# what `faceveil train --arch` takes: the generators, and the conditional anonymiser
TRAIN_ARCHS = (*ARCH_NAMES, "conditional")
INVERT_METHODS = ("auto", "encoder", "optimize", "encoder+optimize")
