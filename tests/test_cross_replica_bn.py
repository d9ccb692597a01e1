"""Cross-replica BatchNorm (BigGAN's synchronised statistics) on CPU: two gloo ranks holding halves of a batch
normalise, back-propagate and track running statistics exactly like one BatchNorm holding the whole batch."""
import os

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from ganforge.nn.cross_replica_bn import CrossReplicaBatchNorm, convert_cross_replica, local_statistics

N, C, H = 12, 5, 3


def _data(step=0):
    gen = torch.Generator().manual_seed(step)
    x = torch.randn(N, C, H, H, generator=gen) * 3 + 2 + step  # off-centre, and a new centre at the second pass
    w = torch.randn(N, C, H, H, generator=gen)  # the loss Σ y·w weighs every output differently
    return x, w


def _reference(momentum):
    x, w = _data()
    bn = nn.BatchNorm2d(C, momentum=momentum)
    nn.init.normal_(bn.weight, 1.0, 0.3, generator=torch.Generator().manual_seed(1))
    nn.init.normal_(bn.bias, 0.0, 0.3, generator=torch.Generator().manual_seed(2))
    bn(_data(1)[0])  # a first pass moves the running mean away from 0: the second pass is compared
    x.requires_grad_(True)
    y = bn(x)
    (y * w).sum().backward()
    return bn, x, y


def _rank(rank, world, store, out_dir, momentum):
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)
    torch.set_num_threads(1)
    x, w = _data()
    half = slice(rank * N // world, (rank + 1) * N // world)
    ref, _, _ = _reference(momentum)
    bn = nn.Sequential(nn.BatchNorm2d(C, momentum=momentum))
    with torch.no_grad():  # the reference's parameters; fresh running statistics, as the reference had
        bn[0].weight.copy_(ref.weight)
        bn[0].bias.copy_(ref.bias)
    net = convert_cross_replica(bn)
    net(_data(1)[0][half])
    xs = x[half].clone().requires_grad_(True)
    y = net(xs)
    (y * w[half]).sum().backward()
    grads = torch.stack([net[0].weight.grad, net[0].bias.grad])
    dist.all_reduce(grads)  # what data parallelism sums (and then divides by the world size)
    stats = net[0].running_mean.clone(), net[0].running_var.clone()
    with local_statistics(net):  # rank 0 alone: must not wait for rank 1
        local = net(x[half]).detach() if rank == 0 else None
    np.savez(os.path.join(out_dir, f"rank{rank}.npz"), y=y.detach().numpy(), gx=xs.grad.numpy(),
             grads=grads.numpy(), mean=stats[0].numpy(), var=stats[1].numpy(),
             kind=np.array(type(net[0]).__name__), local=np.zeros(0) if local is None else local.numpy())
    dist.barrier()
    dist.destroy_process_group()


def test_two_ranks_equal_one_batchnorm_over_the_whole_batch(tmp_path):
    momentum = 0.3
    mp.spawn(_rank, args=(2, str(tmp_path / "store"), str(tmp_path), momentum), nprocs=2, join=True)
    ref, x, y = _reference(momentum)
    r = [np.load(tmp_path / f"rank{k}.npz") for k in range(2)]
    assert all(str(d["kind"]) == "CrossReplicaBatchNorm" for d in r)
    assert np.allclose(np.concatenate([d["y"] for d in r]), y.detach().numpy(), atol=1e-5)
    assert np.allclose(np.concatenate([d["gx"] for d in r]), x.grad.numpy(), atol=1e-5)  # through the statistics
    want = torch.stack([ref.weight.grad, ref.bias.grad]).numpy()
    for d in r:
        assert np.allclose(d["grads"], want, atol=1e-4)
        assert np.allclose(d["mean"], ref.running_mean.numpy(), atol=1e-5)
        assert np.allclose(d["var"], ref.running_var.numpy(), atol=1e-4)  # unbiased over all 2·6·3·3 values
    # Per-rank statistics differ from the global ones (else the test above proves nothing), and inside
    # local_statistics a rank normalises its half by its own statistics.
    x0 = x.detach()[: N // 2]
    own = (x0 - x0.mean((0, 2, 3), keepdim=True)) / torch.sqrt(x0.var((0, 2, 3), unbiased=False, keepdim=True) + 1e-5)
    own = own * ref.weight.detach().view(1, -1, 1, 1) + ref.bias.detach().view(1, -1, 1, 1)
    assert np.allclose(r[0]["local"], own.numpy(), atol=1e-5)
    assert not np.allclose(r[0]["y"], own.numpy(), atol=1e-2)


def test_conversion_keeps_parameters_and_buffers_and_is_plain_batchnorm_without_a_group():
    net = nn.Sequential(nn.Conv2d(2, C, 1), nn.BatchNorm2d(C), nn.ReLU())
    net[1].running_mean.fill_(0.5)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    x = torch.randn(4, 2, H, H)
    want = net(x)
    after = {k: v.clone() for k, v in net.state_dict().items()}
    conv = convert_cross_replica(net)
    assert isinstance(conv[1], CrossReplicaBatchNorm) and isinstance(conv[1], nn.SyncBatchNorm)
    assert conv.state_dict().keys() == after.keys()
    assert all(torch.equal(conv.state_dict()[k], v) for k, v in after.items())
    conv.load_state_dict(before)
    assert torch.allclose(conv(x), want, atol=1e-6)  # no process group: the local batch's statistics
