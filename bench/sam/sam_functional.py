"""A functional PyTorch re-statement of the official segment-anything forward (ImageEncoderViT, PromptEncoder,
MaskDecoder with its TwoWayTransformer), reading an official-layout state dict directly. Used by the SAM tests
(test/models/sam/predictor.official.test.ts, as the reference for new images and prompts) and by bench/sam (as the
PyTorch side of the timing). cfg: {"encoder": {"depth", "heads", "window", "global"}, "dec_heads", "dec_depth"}
for a ViT encoder, or {"tinyvit": {"heads", "windows", "strides"}, ...} for MobileSAM's TinyViT (tiny_vit_sam.py,
eval mode: BatchNorm with running statistics); inputs are 1024x1024 as in the official models. Under CPU autocast
the prompt encoder runs in fp32: the official code's index_put of fp32 embeddings into bf16 ones fails there."""
import math
from types import SimpleNamespace

import numpy as np
import torch
import torch.nn.functional as F


def layer_norm(x, shape, w, b, eps):
    # bf16 activations with fp32 parameters (CPU autocast in torch 1.13 does not cover layer_norm): normalise in
    # fp32, as later autocast versions and samtutor's layerNorm do.
    return F.layer_norm(x.to(w.dtype) if x.dtype != w.dtype else x, shape, w, b, eps)


def functional_sam(sd, cfg):
    W_ = lambda k: sd[k]

    def ln2d(x, p, eps=1e-6):
        u = x.mean(1, keepdim=True); s = (x - u).pow(2).mean(1, keepdim=True)
        x = (x - u) / torch.sqrt(s + eps)
        return W_(p + '.weight')[:, None, None] * x + W_(p + '.bias')[:, None, None]

    def lin(x, p): return F.linear(x, W_(p + '.weight'), sd.get(p + '.bias'))

    def get_rel_pos(q, k, rp):
        qc = torch.arange(q)[:, None] * max(k / q, 1.0); kc = torch.arange(k)[None, :] * max(q / k, 1.0)
        return rp[((qc - kc) + (k - 1) * max(q / k, 1.0)).long()]

    def vit_attn(x, p, heads):
        B, H, Wd, _ = x.shape
        qkv = lin(x, p + '.qkv').reshape(B, H * Wd, 3, heads, -1).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.reshape(3, B * heads, H * Wd, -1).unbind(0)
        scale = q.shape[-1] ** -0.5
        attn = (q * scale) @ k.transpose(-2, -1)
        Rh = get_rel_pos(H, H, W_(p + '.rel_pos_h')); Rw = get_rel_pos(Wd, Wd, W_(p + '.rel_pos_w'))
        r_q = q.reshape(B * heads, H, Wd, -1)
        rel_h = torch.einsum('bhwc,hkc->bhwk', r_q, Rh); rel_w = torch.einsum('bhwc,wkc->bhwk', r_q, Rw)
        attn = (attn.view(B * heads, H, Wd, H, Wd) + rel_h[:, :, :, :, None] + rel_w[:, :, :, None, :]).view(B * heads, H * Wd, H * Wd)
        attn = attn.softmax(dim=-1)
        x = (attn @ v).view(B, heads, H, Wd, -1).permute(0, 2, 3, 1, 4).reshape(B, H, Wd, -1)
        return lin(x, p + '.proj')

    def conv_bn(x, p, stride=1, pad=0, groups=1):
        x = F.conv2d(x, W_(p + '.c.weight'), None, stride, pad, 1, groups)
        return F.batch_norm(x, W_(p + '.bn.running_mean'), W_(p + '.bn.running_var'), W_(p + '.bn.weight'), W_(p + '.bn.bias'), False, 0.0, 1e-5)

    def tinyvit_attn(x, p, heads, ws):
        B, N, C = x.shape; kd = C // heads
        n = ws * ws; pts = [(i // ws, i % ws) for i in range(n)]; offs = {}; idxs = []
        for a in pts:
            for b in pts:
                idxs.append(offs.setdefault((abs(a[0] - b[0]), abs(a[1] - b[1])), len(offs)))
        ab = W_(p + '.attention_biases')[:, torch.tensor(idxs).view(n, n)]
        x = layer_norm(x, (C,), W_(p + '.norm.weight'), W_(p + '.norm.bias'), 1e-5)
        q, k, v = lin(x, p + '.qkv').view(B, N, heads, -1).split([kd, kd, kd], dim=3)
        q, k, v = q.permute(0, 2, 1, 3), k.permute(0, 2, 1, 3), v.permute(0, 2, 1, 3)
        a = (q @ k.transpose(-2, -1)) * kd ** -0.5 + ab
        return lin((a.softmax(dim=-1) @ v).transpose(1, 2).reshape(B, N, C), p + '.proj')

    def tinyvit_block(x, p, H, Wd, heads, ws):
        B, L, C = x.shape
        if H == ws and Wd == ws:
            y = tinyvit_attn(x, p + '.attn', heads, ws)
        else:
            t = x.view(B, H, Wd, C); ph = (ws - H % ws) % ws; pw = (ws - Wd % ws) % ws
            if ph or pw: t = F.pad(t, (0, 0, 0, pw, 0, ph))
            pH, pW = H + ph, Wd + pw; nH, nW = pH // ws, pW // ws
            t = t.view(B, nH, ws, nW, ws, C).transpose(2, 3).reshape(B * nH * nW, ws * ws, C)
            t = tinyvit_attn(t, p + '.attn', heads, ws).view(B, nH, nW, ws, ws, C).transpose(2, 3).reshape(B, pH, pW, C)
            y = t[:, :H, :Wd].contiguous().view(B, L, C)
        x = x + y
        x = conv_bn(x.transpose(1, 2).reshape(B, C, H, Wd), p + '.local_conv', 1, 1, C).view(B, C, L).transpose(1, 2)
        m = layer_norm(x, (C,), W_(p + '.mlp.norm.weight'), W_(p + '.mlp.norm.bias'), 1e-5)
        return x + lin(F.gelu(lin(m, p + '.mlp.fc1')), p + '.mlp.fc2')

    def patch_merging(x, p, stride):
        out = W_(p + '.conv1.c.weight').shape[0]
        x = F.gelu(conv_bn(x, p + '.conv1'))
        x = F.gelu(conv_bn(x, p + '.conv2', stride, 1, out))
        return conv_bn(x, p + '.conv3')

    def tinyvit_encoder(x):
        t = cfg['tinyvit']; e = 'image_encoder'
        x = conv_bn(F.gelu(conv_bn(x, e + '.patch_embed.seq.0', 2, 1)), e + '.patch_embed.seq.2', 2, 1)
        nb = lambda i: len({k.split('.')[4] for k in sd if k.startswith(f'{e}.layers.{i}.blocks.')})
        for j in range(nb(0)):  # MBConv blocks
            p = f'{e}.layers.0.blocks.{j}'; hid = W_(p + '.conv1.c.weight').shape[0]
            y = F.gelu(conv_bn(F.gelu(conv_bn(x, p + '.conv1')), p + '.conv2', 1, 1, hid))
            x = F.gelu(conv_bn(y, p + '.conv3') + x)
        x = patch_merging(x, f'{e}.layers.0.downsample', t['strides'][0])
        for i in (1, 2, 3):
            B, C, H, Wd = x.shape
            x = x.flatten(2).transpose(1, 2)
            for j in range(nb(i)):
                x = tinyvit_block(x, f'{e}.layers.{i}.blocks.{j}', H, Wd, t['heads'][i], t['windows'][i])
            x = x.view(B, H, Wd, C).permute(0, 3, 1, 2)
            if i < 3: x = patch_merging(x, f'{e}.layers.{i}.downsample', t['strides'][i])
        x = ln2d(F.conv2d(x, W_(e + '.neck.0.weight')), e + '.neck.1')
        return ln2d(F.conv2d(x, W_(e + '.neck.2.weight'), padding=1), e + '.neck.3')

    def encoder(x):
        if 'tinyvit' in cfg: return tinyvit_encoder(x)
        e = cfg['encoder']; ws = e['window']
        x = F.conv2d(x, W_('image_encoder.patch_embed.proj.weight'), W_('image_encoder.patch_embed.proj.bias'), stride=16).permute(0, 2, 3, 1)
        x = x + W_('image_encoder.pos_embed')
        for i in range(e['depth']):
            p = f'image_encoder.blocks.{i}'
            sc = x
            x = layer_norm(x, (x.shape[-1],), W_(p + '.norm1.weight'), W_(p + '.norm1.bias'), 1e-6)
            win = i not in e['global']
            if win:
                B, H, Wd, C = x.shape
                ph = (ws - H % ws) % ws; pw = (ws - Wd % ws) % ws
                x = F.pad(x, (0, 0, 0, pw, 0, ph)); Hp, Wp = H + ph, Wd + pw
                x = x.view(B, Hp // ws, ws, Wp // ws, ws, C).permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, ws, ws, C)
            x = vit_attn(x, p + '.attn', e['heads'])
            if win:
                x = x.view(B, Hp // ws, Wp // ws, ws, ws, -1).permute(0, 1, 3, 2, 4, 5).contiguous().view(B, Hp, Wp, -1)[:, :H, :Wd, :].contiguous()
            x = sc + x
            y = layer_norm(x, (x.shape[-1],), W_(p + '.norm2.weight'), W_(p + '.norm2.bias'), 1e-6)
            x = x + lin(F.gelu(lin(y, p + '.mlp.lin1')), p + '.mlp.lin2')
        x = x.permute(0, 3, 1, 2)
        x = ln2d(F.conv2d(x, W_('image_encoder.neck.0.weight')), 'image_encoder.neck.1')
        return ln2d(F.conv2d(x, W_('image_encoder.neck.2.weight'), padding=1), 'image_encoder.neck.3')

    G = W_('prompt_encoder.pe_layer.positional_encoding_gaussian_matrix')
    def pe_enc(c):
        c = (2 * c - 1) @ G; c = 2 * np.pi * c
        return torch.cat([torch.sin(c), torch.cos(c)], dim=-1)
    def pe_coords(c):
        c = c.clone(); c[..., 0] = c[..., 0] / 1024; c[..., 1] = c[..., 1] / 1024
        return pe_enc(c.to(torch.float))
    pemb = lambda i: W_(f'prompt_encoder.point_embeddings.{i}.weight')

    def prompt_encoder(points, boxes, masks):
        with torch.autocast('cpu', enabled=False):
            return prompt_encoder_fp32(points, boxes, masks)

    def prompt_encoder_fp32(points, boxes, masks):
        bs = points[0].shape[0] if points is not None else boxes.shape[0] if boxes is not None else masks.shape[0] if masks is not None else 1
        sparse = torch.empty((bs, 0, G.shape[1] * 2))
        if points is not None:
            pts, labels = points; pts = pts + 0.5
            if boxes is None:
                pts = torch.cat([pts, torch.zeros((pts.shape[0], 1, 2))], dim=1)
                labels = torch.cat([labels, -torch.ones((labels.shape[0], 1))], dim=1)
            pe = pe_coords(pts)
            pe[labels == -1] = 0.0
            pe[labels == -1] += W_('prompt_encoder.not_a_point_embed.weight')
            pe[labels == 0] += pemb(0); pe[labels == 1] += pemb(1)
            sparse = torch.cat([sparse, pe], dim=1)
        if boxes is not None:
            ce = pe_coords((boxes + 0.5).reshape(-1, 2, 2))
            ce[:, 0, :] += pemb(2); ce[:, 1, :] += pemb(3)
            sparse = torch.cat([sparse, ce], dim=1)
        if masks is not None:
            p = 'prompt_encoder.mask_downscaling'
            x = F.gelu(ln2d(F.conv2d(masks, W_(p + '.0.weight'), W_(p + '.0.bias'), stride=2), p + '.1'))
            x = F.gelu(ln2d(F.conv2d(x, W_(p + '.3.weight'), W_(p + '.3.bias'), stride=2), p + '.4'))
            dense = F.conv2d(x, W_(p + '.6.weight'), W_(p + '.6.bias'))
        else:
            dense = W_('prompt_encoder.no_mask_embed.weight').reshape(1, -1, 1, 1).expand(bs, -1, 64, 64)
        return sparse, dense

    def dense_pe():
        g = torch.ones((64, 64)); y = (g.cumsum(0) - 0.5) / 64; x = (g.cumsum(1) - 0.5) / 64
        return pe_enc(torch.stack([x, y], dim=-1)).permute(2, 0, 1).unsqueeze(0)

    def dattn(q, k, v, p, heads):
        q, k, v = lin(q, p + '.q_proj'), lin(k, p + '.k_proj'), lin(v, p + '.v_proj')
        sep = lambda x: x.reshape(x.shape[0], x.shape[1], heads, x.shape[2] // heads).transpose(1, 2)
        q, k, v = sep(q), sep(k), sep(v)
        a = (q @ k.permute(0, 1, 3, 2)) / math.sqrt(q.shape[-1])
        o = torch.softmax(a, dim=-1) @ v
        o = o.transpose(1, 2); o = o.reshape(o.shape[0], o.shape[1], -1)
        return lin(o, p + '.out_proj')

    def lnorm(x, p): return layer_norm(x, (x.shape[-1],), W_(p + '.weight'), W_(p + '.bias'), 1e-5)

    def transformer(img, img_pe, pt):
        t = 'mask_decoder.transformer'; h = cfg['dec_heads']
        img = img.flatten(2).permute(0, 2, 1); img_pe = img_pe.flatten(2).permute(0, 2, 1)
        q, k = pt, img
        for i in range(cfg['dec_depth']):
            p = f'{t}.layers.{i}'
            if i == 0: q = dattn(q, q, q, p + '.self_attn', h)
            else: qq = q + pt; q = q + dattn(qq, qq, q, p + '.self_attn', h)
            q = lnorm(q, p + '.norm1')
            q = lnorm(q + dattn(q + pt, k + img_pe, k, p + '.cross_attn_token_to_image', h), p + '.norm2')
            q = lnorm(q + lin(F.relu(lin(q, p + '.mlp.lin1')), p + '.mlp.lin2'), p + '.norm3')
            k = lnorm(k + dattn(k + img_pe, q + pt, q, p + '.cross_attn_image_to_token', h), p + '.norm4')
        q = lnorm(q + dattn(q + pt, k + img_pe, k, f'{t}.final_attn_token_to_image', h), f'{t}.norm_final_attn')
        return q, k

    def mlp(x, p, n):
        for j in range(n):
            x = lin(x, f'{p}.layers.{j}'); x = F.relu(x) if j < n - 1 else x
        return x

    def decoder(emb, sparse, dense, multimask):
        m = 'mask_decoder'; nmt = 4
        out_tok = torch.cat([W_(m + '.iou_token.weight'), W_(m + '.mask_tokens.weight')], dim=0).unsqueeze(0).expand(sparse.shape[0], -1, -1)
        tokens = torch.cat((out_tok, sparse), dim=1)
        src = torch.repeat_interleave(emb, tokens.shape[0], dim=0) + dense
        pos = torch.repeat_interleave(dense_pe(), tokens.shape[0], dim=0)
        b, c, h, w = src.shape
        hs, src = transformer(src, pos, tokens)
        src = src.transpose(1, 2).view(b, c, h, w)
        u = m + '.output_upscaling'
        up = F.gelu(ln2d(F.conv_transpose2d(src, W_(u + '.0.weight'), W_(u + '.0.bias'), stride=2), u + '.1'))
        up = F.gelu(F.conv_transpose2d(up, W_(u + '.3.weight'), W_(u + '.3.bias'), stride=2))
        hyper = torch.stack([mlp(hs[:, 1 + i, :], f'{m}.output_hypernetworks_mlps.{i}', 3) for i in range(nmt)], dim=1)
        b, c, h, w = up.shape
        masks = (hyper @ up.view(b, c, h * w)).view(b, -1, h, w)
        iou = mlp(hs[:, 0, :], m + '.iou_prediction_head', 3)
        s = slice(1, None) if multimask else slice(0, 1)
        return masks[:, s], iou[:, s]

    return SimpleNamespace(encoder=encoder, prompt_encoder=prompt_encoder, decoder=decoder, dense_pe=dense_pe)
