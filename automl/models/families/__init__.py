"""Model families, one module each: ``build(arch, techniques, x)`` returns the features of ``x``.

Each family module exports ``build``; its name, arguments and the modalities it fits are its
entry in :data:`automl.registry.FAMILIES`. The shared techniques (initializer, activation,
dropout, L1/L2, batch norm) come in as :class:`automl.models.builder.Techniques`, applied through
``techniques.dense``, ``techniques.conv`` and ``techniques.drop``, so a family is a few lines.
``transfer`` (a pretrained base) and ``custom`` (a user's builder) are built by
:mod:`automl.models.builder` itself: they replace the pipeline rather than extend it.
"""
