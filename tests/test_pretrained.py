"""Pretrained diffusers backends, end to end, with tiny randomly initialised components.

Each pipeline is built from configs only (no download): a word-level tokenizer made here, a
tiny T5/UMT5 encoder, a tiny VAE and transformer. It is saved with save_pretrained to a temp
folder, loaded back through PretrainedBackend (safetensors only, local files only), and
rendered through the full lab pipeline into a signed MP4. The frames are noise — the point is
that loading, seeding, progress, image conditioning, post-processing and encoding all work.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers.media import decode_audio

from sora_lab import provenance
from sora_lab.core.errors import InputError
from sora_lab.generate import encode
from sora_lab.generate.pipeline import render_video
from sora_lab.generate.pretrained import KINDS, PretrainedBackend, PretrainedOptions, frame_count

WORDS = "<pad> </s> <unk> a red ball bounces on navy background the person walks dog runs in park".split()
OPTIONS = PretrainedOptions(steps=2, width=32, height=64, max_frames=9, guidance=3.0)


def _tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = {word: i for i, word in enumerate(WORDS)}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    core.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    return PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>", eos_token="</s>", unk_token="<unk>")


def _wan_parts(image_dim: int | None):
    from diffusers import AutoencoderKLWan, FlowMatchEulerDiscreteScheduler, WanTransformer3DModel
    from transformers import UMT5Config, UMT5EncoderModel

    torch.manual_seed(0)
    text_encoder = UMT5EncoderModel(UMT5Config(vocab_size=32, d_model=16, d_kv=8, num_heads=2, num_layers=1, d_ff=32))
    vae = AutoencoderKLWan(
        base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True]
    )
    transformer = WanTransformer3DModel(
        patch_size=(1, 2, 2),
        num_attention_heads=2,
        attention_head_dim=12,
        in_channels=36 if image_dim else 16,
        out_channels=16,
        text_dim=16,
        freq_dim=256,
        ffn_dim=32,
        num_layers=2,
        cross_attn_norm=True,
        qk_norm="rms_norm_across_heads",
        rope_max_seq_len=32,
        image_dim=image_dim,
    )
    return {
        "tokenizer": _tokenizer(),
        "text_encoder": text_encoder,
        "vae": vae,
        "transformer": transformer,
        "scheduler": FlowMatchEulerDiscreteScheduler(shift=3.0),
    }


def build_wan_t2v(folder):
    from diffusers import WanPipeline

    WanPipeline(**_wan_parts(None)).save_pretrained(folder)
    return folder


def build_wan_i2v(folder):
    from diffusers import WanImageToVideoPipeline
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel

    torch.manual_seed(0)
    image_encoder = CLIPVisionModel(
        CLIPVisionConfig(
            hidden_size=4,
            num_hidden_layers=1,
            num_attention_heads=2,
            image_size=32,
            intermediate_size=8,
            patch_size=4,
        )
    )
    parts = _wan_parts(image_dim=4)
    pipe = WanImageToVideoPipeline(
        **parts, image_encoder=image_encoder, image_processor=CLIPImageProcessor(crop_size=32, size=32)
    )
    pipe.save_pretrained(folder)
    return folder


def build_ltx(folder):
    from diffusers import (
        AutoencoderKLLTXVideo,
        FlowMatchEulerDiscreteScheduler,
        LTXPipeline,
        LTXVideoTransformer3DModel,
    )
    from transformers import T5Config, T5EncoderModel

    torch.manual_seed(0)
    transformer = LTXVideoTransformer3DModel(
        in_channels=8,
        out_channels=8,
        patch_size=1,
        patch_size_t=1,
        num_attention_heads=2,
        attention_head_dim=8,
        cross_attention_dim=16,
        num_layers=1,
        caption_channels=16,
    )
    vae = AutoencoderKLLTXVideo(
        latent_channels=8,
        block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8),
        spatio_temporal_scaling=(True, True, False, False),
        decoder_spatio_temporal_scaling=(True, True, False, False),
        layers_per_block=(1, 1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1, 1),
        patch_size=1,
        patch_size_t=1,
        encoder_causal=True,
        decoder_causal=False,
    )
    text_encoder = T5EncoderModel(T5Config(vocab_size=32, d_model=16, d_kv=8, num_heads=2, num_layers=1, d_ff=32))
    LTXPipeline(
        tokenizer=_tokenizer(),
        text_encoder=text_encoder,
        vae=vae,
        transformer=transformer,
        scheduler=FlowMatchEulerDiscreteScheduler(),
    ).save_pretrained(folder)
    return folder


def _face(height=48, width=32) -> np.ndarray:
    image = np.zeros((height, width, 3), np.uint8)
    image[..., 0] = np.linspace(0, 255, width, dtype=np.uint8)
    image[height // 3 :, :, 2] = 200
    return image


def _render(backend, tmp_path, reference=None):
    identity = provenance.ensure_signing_identity(tmp_path / "home")
    rendered = render_video(
        backend,
        prompt="a red ball bounces",
        seconds=1.0,
        seed=3,
        creator="maya",
        staging=tmp_path / "staging",
        identity=identity,
        reference=reference,
    )
    info = encode.probe(rendered.mp4_path)
    assert (info.width, info.height, info.n_frames, info.audio_codec) == (360, 640, 24, "aac")
    report = provenance.verify(rendered.mp4_path)
    assert report["c2pa_valid"] and report["generator"] == backend.model_id
    return rendered


def test_wan_text_to_video_end_to_end(tmp_path):
    backend = PretrainedBackend(build_wan_t2v(tmp_path / "wan-t2v"), OPTIONS)
    assert backend.model_id == "WanPipeline:wan-t2v" and backend.device == "cpu" and backend.dtype == torch.float32
    steps = []
    clip = backend.render("a red ball bounces", seconds=1.0, seed=5, progress=lambda d, t: steps.append((d, t)))
    assert clip.frames.shape == (9, 64, 32, 3) and clip.frames.dtype == np.uint8
    assert steps == [(1, 2), (2, 2)]
    again = backend.render("a red ball bounces", seconds=1.0, seed=5)
    other = backend.render("a red ball bounces", seconds=1.0, seed=6)
    assert np.array_equal(clip.frames, again.frames) and not np.array_equal(clip.frames, other.frames)
    rendered = _render(backend, tmp_path)
    assert rendered.backend == "pretrained" and rendered.timings["model"] > 0
    with pytest.raises(InputError, match="image-to-video folder"):
        backend.render("a person walks", seconds=1.0, seed=1, reference=_face())


@pytest.mark.slow
def test_wan_image_to_video_uses_the_reference(tmp_path):
    backend = PretrainedBackend(build_wan_i2v(tmp_path / "wan-i2v"), OPTIONS)
    with pytest.raises(InputError, match="needs a reference"):
        backend.render("a person walks", seconds=1.0, seed=1)
    a = backend.render("a person walks", seconds=1.0, seed=1, reference=_face())
    b = backend.render("a person walks", seconds=1.0, seed=1, reference=255 - _face())
    assert a.meta["image_conditioned"] and not np.array_equal(a.frames, b.frames)
    _render(backend, tmp_path, reference=_face())


def test_ltx_text_and_image_to_video_from_one_folder(tmp_path):
    backend = PretrainedBackend(build_ltx(tmp_path / "ltx"), OPTIONS)
    clip = backend.render("a dog runs in park", seconds=1.0, seed=2)
    assert clip.frames.shape[0] == 9 and clip.meta["pipeline"] == "LTXPipeline"
    conditioned = backend.render("a person walks", seconds=1.0, seed=2, reference=_face())
    assert conditioned.meta["pipeline"] == "LTXImageToVideoPipeline"
    _render(backend, tmp_path)


def test_folder_checks_name_the_fix(tmp_path):
    with pytest.raises(InputError, match="model_index.json"):
        PretrainedBackend(tmp_path)
    (tmp_path / "model_index.json").write_text('{"_class_name": "StableDiffusionPipeline"}')
    with pytest.raises(InputError, match="supported"):
        PretrainedBackend(tmp_path)


def test_frame_counts_follow_each_vae():
    assert frame_count(10, KINDS["WanPipeline"], 81) == 81  # 4k+1, capped
    assert frame_count(2, KINDS["WanPipeline"], 81) == 33
    assert frame_count(10, KINDS["LTXPipeline"], 121) == 121  # 8k+1
    assert frame_count(1, KINDS["LTXPipeline"], 121) % 8 == 1


@pytest.mark.gpu
def test_wan_on_cuda_in_bfloat16(tmp_path):
    options = PretrainedOptions(steps=2, width=32, height=64, max_frames=9, vae_tiling=True)
    backend = PretrainedBackend(build_wan_t2v(tmp_path / "wan"), options)
    assert backend.device == "cuda" and backend.dtype == torch.bfloat16
    _render(backend, tmp_path)


def build_stable_audio(folder):
    from diffusers import (
        AutoencoderOobleck,
        EDMDPMSolverMultistepScheduler,
        StableAudioDiTModel,
        StableAudioPipeline,
        StableAudioProjectionModel,
    )
    from transformers import T5Config, T5EncoderModel

    torch.manual_seed(0)
    tokenizer = _tokenizer()
    tokenizer.model_max_length = 16
    text_encoder = T5EncoderModel(T5Config(vocab_size=32, d_model=16, d_kv=8, num_heads=2, num_layers=1, d_ff=32))
    transformer = StableAudioDiTModel(
        sample_size=32,
        in_channels=3,
        num_layers=1,
        attention_head_dim=4,
        num_key_value_attention_heads=2,
        out_channels=3,
        cross_attention_dim=4,
        time_proj_dim=8,
        global_states_input_dim=8,
        cross_attention_input_dim=4,
    )
    vae = AutoencoderOobleck(
        encoder_hidden_size=6,
        downsampling_ratios=[1, 2],
        decoder_channels=3,
        decoder_input_channels=3,
        audio_channels=2,
        channel_multiples=[2, 4],
        sampling_rate=32,
    )
    # Stable Audio Open ships CosineDPMSolverMultistepScheduler, which needs torchsde; the EDM
    # solver takes the same v-prediction parameters and keeps this test free of that package.
    scheduler = EDMDPMSolverMultistepScheduler(
        solver_order=2, prediction_type="v_prediction", sigma_data=1.0, sigma_schedule="exponential"
    )
    projection = StableAudioProjectionModel(text_encoder_dim=16, conditioning_dim=4, min_value=0, max_value=32)
    StableAudioPipeline(
        tokenizer=tokenizer,
        text_encoder=text_encoder,
        transformer=transformer,
        vae=vae,
        scheduler=scheduler,
        projection_model=projection,
    ).save_pretrained(folder)
    return folder


def test_audio_model_bed_is_mixed_under_the_motion_sound(tmp_path):
    from sora_lab.generate.audio import AmbienceModel

    folder = build_stable_audio(tmp_path / "stable-audio")
    bed_model = AmbienceModel(str(folder), steps=2)
    assert bed_model.max_seconds() == 2.0  # 32 latent steps x hop 2 / 32 Hz
    bed = bed_model.render("rain in the park", seconds=3.0, seed=1)
    assert bed.shape == (144_000, 2) and bed.dtype == np.float32 and np.isfinite(bed).all()
    assert np.array_equal(bed, bed_model.render("rain in the park", seconds=3.0, seed=1))
    options = PretrainedOptions(steps=2, width=32, height=64, max_frames=9, audio_model=str(folder), audio_steps=2)
    with_bed = PretrainedBackend(build_ltx(tmp_path / "ltx"), options)
    plain = PretrainedBackend(tmp_path / "ltx", OPTIONS)
    a, rate = decode_audio(_render(with_bed, tmp_path / "a").mp4_path)
    b, _ = decode_audio(_render(plain, tmp_path / "b").mp4_path)
    assert rate == 48000 and a.shape == b.shape and not np.allclose(a, b, atol=1e-3)
    with pytest.raises(InputError, match="audio pipeline"):
        AmbienceModel(str(tmp_path / "ltx"))


@pytest.mark.parametrize("field, value, message", [
    ("steps", 0, "options.steps must be a whole number from 1 to 500; got 0"),
    ("steps", "30", "options.steps must be a whole number"),
    ("steps", True, "options.steps must be a whole number"),
    ("guidance", -1.0, "options.guidance is a CFG scale"),
    ("guidance", float("nan"), "options.guidance is a CFG scale"),
    ("guidance", "5", "options.guidance is a CFG scale and must be 0 or more"),
    ("width", 470, "options.width must be a multiple of 16"),
    ("height", 4096, "options.height must be a whole number from 16 to 2048"),
    ("max_frames", 1, "options.max_frames must be a whole number from 2"),
    ("device", "gpu", "options.device must be 'cpu', 'cuda' or 'cuda:N'"),
    ("dtype", "float64", "options.dtype must be"),
    ("cpu_offload", "yes", "options.cpu_offload must be true or false"),
    ("negative_prompt", None, "options.negative_prompt must be text"),
    ("audio_model", 3, "options.audio_model must be a folder path"),
])
def test_options_refuse_bad_values_naming_the_field(field, value, message):
    with pytest.raises(InputError, match=message):
        PretrainedOptions(**{field: value})


def test_default_and_typical_options_are_accepted():
    PretrainedOptions()
    PretrainedOptions(device="cuda:1", dtype="float16", steps=50, guidance=0, width=32, height=64, max_frames=9,
                      cpu_offload=True, negative_prompt="blurry", audio_model="/models/audio")
