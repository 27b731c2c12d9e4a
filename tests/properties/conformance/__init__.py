"""Layers written the ways real from-scratch code is written, checked by ``cnngrade.properties`` as users
declare them: numpy NCHW and NHWC functions, single images, cs231n forward/backward pairs, layer classes,
an autograd.Function, partial support with NotImplementedError. test_conformance_corpus.py declares each
honestly and puts bugs into them."""
