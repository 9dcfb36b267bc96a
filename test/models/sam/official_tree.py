# The official SAM module tree (facebookresearch/segment-anything@dca509fe, modeling/*.py constructors as described
# in ../shared/reference/sam.md), built on the meta device so no memory is used: prints, as JSON, every
# state_dict key with its shape and the parameter counts of vit_b, vit_l and vit_h. Only __init__ is reproduced
# (names, order, shapes); forward is not needed for the key comparison. Run by checkpoint.test.ts.
import json
import torch
import torch.nn as nn

DEV = 'meta'


def P(*s):
    return nn.Parameter(torch.zeros(*s, device=DEV))


class LayerNorm2d(nn.Module):
    def __init__(s, c):
        super().__init__(); s.weight = P(c); s.bias = P(c)
class MLPBlock(nn.Module):
    def __init__(s, d, m, act):
        super().__init__(); s.lin1 = nn.Linear(d, m, device=DEV); s.lin2 = nn.Linear(m, d, device=DEV); s.act = act()
class VAttention(nn.Module):
    def __init__(s, dim, heads, input_size):
        super().__init__(); hd = dim // heads
        s.qkv = nn.Linear(dim, dim * 3, bias=True, device=DEV); s.proj = nn.Linear(dim, dim, device=DEV)
        s.rel_pos_h = P(2 * input_size[0] - 1, hd); s.rel_pos_w = P(2 * input_size[1] - 1, hd)
class Block(nn.Module):
    def __init__(s, dim, heads, ws, input_size):
        super().__init__()
        s.norm1 = nn.LayerNorm(dim, eps=1e-6, device=DEV)
        s.attn = VAttention(dim, heads, input_size if ws == 0 else (ws, ws))
        s.norm2 = nn.LayerNorm(dim, eps=1e-6, device=DEV)
        s.mlp = MLPBlock(dim, dim * 4, nn.GELU)
class PatchEmbed(nn.Module):
    def __init__(s, d):
        super().__init__(); s.proj = nn.Conv2d(3, d, 16, 16, device=DEV)
class ImageEncoderViT(nn.Module):
    def __init__(s, D, depth, heads, glob, out=256):
        super().__init__()
        s.patch_embed = PatchEmbed(D); s.pos_embed = P(1, 64, 64, D)
        s.blocks = nn.ModuleList([Block(D, heads, 0 if i in glob else 14, (64, 64)) for i in range(depth)])
        s.neck = nn.Sequential(nn.Conv2d(D, out, 1, bias=False, device=DEV), LayerNorm2d(out),
                               nn.Conv2d(out, out, 3, padding=1, bias=False, device=DEV), LayerNorm2d(out))
class PE(nn.Module):
    def __init__(s, n):
        super().__init__(); s.register_buffer('positional_encoding_gaussian_matrix', torch.zeros(2, n, device=DEV))
class PromptEncoder(nn.Module):
    def __init__(s, D=256, c=16):
        super().__init__()
        s.pe_layer = PE(D // 2)
        s.point_embeddings = nn.ModuleList([nn.Embedding(1, D, device=DEV) for _ in range(4)])
        s.not_a_point_embed = nn.Embedding(1, D, device=DEV)
        s.mask_downscaling = nn.Sequential(nn.Conv2d(1, c // 4, 2, 2, device=DEV), LayerNorm2d(c // 4), nn.GELU(),
            nn.Conv2d(c // 4, c, 2, 2, device=DEV), LayerNorm2d(c), nn.GELU(), nn.Conv2d(c, D, 1, device=DEV))
        s.no_mask_embed = nn.Embedding(1, D, device=DEV)
class DAttention(nn.Module):
    def __init__(s, D, heads, r=1):
        super().__init__(); i = D // r
        s.q_proj = nn.Linear(D, i, device=DEV); s.k_proj = nn.Linear(D, i, device=DEV)
        s.v_proj = nn.Linear(D, i, device=DEV); s.out_proj = nn.Linear(i, D, device=DEV)
class TwoWayBlock(nn.Module):
    def __init__(s, D, heads, mlp):
        super().__init__()
        s.self_attn = DAttention(D, heads); s.norm1 = nn.LayerNorm(D, device=DEV)
        s.cross_attn_token_to_image = DAttention(D, heads, 2); s.norm2 = nn.LayerNorm(D, device=DEV)
        s.mlp = MLPBlock(D, mlp, nn.ReLU); s.norm3 = nn.LayerNorm(D, device=DEV)
        s.norm4 = nn.LayerNorm(D, device=DEV); s.cross_attn_image_to_token = DAttention(D, heads, 2)
class TwoWayTransformer(nn.Module):
    def __init__(s, depth=2, D=256, heads=8, mlp=2048):
        super().__init__()
        s.layers = nn.ModuleList([TwoWayBlock(D, heads, mlp) for _ in range(depth)])
        s.final_attn_token_to_image = DAttention(D, heads, 2); s.norm_final_attn = nn.LayerNorm(D, device=DEV)
class MLP(nn.Module):
    def __init__(s, i, h, o, n):
        super().__init__(); hs = [h] * (n - 1)
        s.layers = nn.ModuleList(nn.Linear(a, b, device=DEV) for a, b in zip([i] + hs, hs + [o]))
class MaskDecoder(nn.Module):
    def __init__(s, D=256):
        super().__init__()
        s.transformer = TwoWayTransformer()
        s.iou_token = nn.Embedding(1, D, device=DEV); s.mask_tokens = nn.Embedding(4, D, device=DEV)
        s.output_upscaling = nn.Sequential(nn.ConvTranspose2d(D, D // 4, 2, 2, device=DEV), LayerNorm2d(D // 4), nn.GELU(),
            nn.ConvTranspose2d(D // 4, D // 8, 2, 2, device=DEV), nn.GELU())
        s.output_hypernetworks_mlps = nn.ModuleList([MLP(D, D, D // 8, 3) for _ in range(4)])
        s.iou_prediction_head = MLP(D, 256, 4, 3)
class Sam(nn.Module):
    def __init__(s, enc):
        super().__init__()
        s.image_encoder = enc; s.prompt_encoder = PromptEncoder(); s.mask_decoder = MaskDecoder()
        s.register_buffer('pixel_mean', torch.zeros(3, 1, 1, device=DEV), False)
        s.register_buffer('pixel_std', torch.zeros(3, 1, 1, device=DEV), False)
ARCH = {'vit_b': (768, 12, 12, [2, 5, 8, 11]), 'vit_l': (1024, 24, 16, [5, 11, 17, 23]), 'vit_h': (1280, 32, 16, [7, 15, 23, 31])}


if __name__ == '__main__':
    out = {}
    for name in ARCH:
        model = Sam(ImageEncoderViT(*ARCH[name]))
        out[name] = {
            'keys': [[k, list(v.shape)] for k, v in model.state_dict().items()],
            'params': {part: sum(p.numel() for p in getattr(model, part).parameters()) for part in ['image_encoder', 'prompt_encoder', 'mask_decoder']},
        }
    print(json.dumps(out))
