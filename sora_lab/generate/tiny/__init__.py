"""The lab's own small text-to-video model: a procedural world, a tiny diffusers video
transformer trained on it, a sampler, an evaluator that reads clips back from pixels, and
`TinyBackend` behind the generation Backend protocol.

Import the pieces from their modules (`sora_lab.generate.tiny.backend`, `.world`, ...);
this package file stays light so `import sora_lab` does not pull in torch.
"""
