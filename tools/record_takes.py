"""Record seeded outputs of the pipeline (before/after the restructuring)."""
import sys, json, numpy as np, torch
from pathlib import Path
out = Path(sys.argv[1]); out.mkdir(exist_ok=True)
torch.set_num_threads(2)
from emoanim.pipeline import Animator, EmotionSource
a = Animator.from_pretrained("checkpoints", device="cpu")
res = {}
def rec(name, motion):
    arr = motion.params if hasattr(motion, "params") else np.asarray(motion)
    np.save(out / f"{name}.npy", arr); res[name] = list(arr.shape)
m = a.animate("assets/happy.ogg", EmotionSource.label("happy", 3), seed=0); rec("label_happy3", m)
if not Path("/tmp/baseline/ref.npz").exists(): m.save("/tmp/baseline/ref.npz")
rec("label_sad2_seed7_g1", a.animate("assets/sad.mp3", EmotionSource.label("sad", 2), seed=7, guidance=1.0))
rec("text", a.animate("assets/angry.wav", EmotionSource.from_text("quietly furious"), seed=1))
rec("audio_ref", a.animate("assets/happy.ogg", EmotionSource.from_audio("assets/angry.wav"), seed=2))
rec("motion_ref", a.animate("assets/surprised.flac", EmotionSource.from_motion("/tmp/baseline/ref.npz"), seed=3))
rec("auto", a.animate("assets/surprised.flac", EmotionSource.auto(), seed=4, steps=10, guidance=3.0))
rec("blend", a.animate("assets/sad.mp3", EmotionSource.label("sad", 3), seed=5, blend=(EmotionSource.from_text("a little angry"), 0.3)))
# long input: several windows
wave = a.read_audio("assets/angry.wav")
long = np.concatenate([wave, wave[::-1], wave])
rec("long_windows", a.animate(long, EmotionSource.label("angry", 3), seed=6))
# ancestral sampler, short clip
SAMPLER = sys.argv[2] if len(sys.argv) > 2 else "old"
short = wave[: 16000 * 2]
if SAMPLER == "old":
    rec("ddpm400", a.animate(short, EmotionSource.label("fearful", 2), seed=8, steps=400))
else:
    rec("ddpm400", a.animate(short, EmotionSource.label("fearful", 2), seed=8, steps=400, sampler="ddpm"))
# embeddings
sp = a.space
for nm, kw in [("z_label", dict(emotion="happy", intensity=3)), ("z_text", dict(text="over the moon")),
               ("z_audio", dict(audio=wave))]:
    np.save(out / f"{nm}.npy", sp.embed(**kw)); res[nm] = 1
np.save(out / "content.npy", a.content_encoder.encode(wave))
print(sp.classify(sp.embed(text="livid")))
# regression baseline
try:
    from emoanim.diffusion.regression import RegressionGenerator
    reg = RegressionGenerator.from_pretrained("checkpoints/regression")
except ImportError:  # before the restructuring
    from emoanim.diffusion import MotionGenerator
    reg = MotionGenerator.from_pretrained("checkpoints/regression")
np.save(out / "regression.npy", reg.sample(a.content_encoder.encode(wave), sp.embed(emotion="sad", intensity=3), 100))
json.dump(res, open(out / "index.json", "w"))
print("recorded", out)
