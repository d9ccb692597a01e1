"""Audio: spectral representations (GANSynth), the procedural note synth, WAV input/output."""
