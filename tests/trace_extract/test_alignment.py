"""Rigid fits of the pose estimation (Kabsch, RANSAC, the camera path) keep the values pinned before the
Kabsch step moved onto scipy."""

import numpy as np

from mu0.trace_extract.alignment import estimate_poses, kabsch, ransac_rigid

KABSCH = [[-0.0031077165239770253, -0.9987434905531479, 0.05001781858219184, 0.05009248266656818],
          [0.9999895160520899, -0.0029355966818690664, 0.003514264934284346, 0.00715795582289358],
          [-0.0033630170849314692, 0.050028215537193076, 0.9987421427807334, 0.09419958740590983]]
RANSAC = [[0.9799513217059299, -0.19923630505982645, 0.0005493932188215848, 0.09931017732996442],
          [0.19923605437997882, 0.9799514096025723, 0.00047901255563999686, -0.1994891022061473],
          [-0.0006338153508734455, -0.00035995004979203345, 0.9999997343569961, 0.3004170659044569]]
POSES = [[[0.998706567978163, -0.000174713223406, 0.050844474159626, 0.037095719024221],
          [0.000152901079627, 0.999999894615211, 0.000432886619126, -0.0011643501393],
          [-0.050844544432408, -0.000424552534719, 0.998706489443523, 0.020114708301986]],
         [[0.994957348159867, 0.000439556183852, 0.100297966744326, 0.078460812749075],
          [-0.000462724041939, 0.999999871368046, 0.000207726627602, -0.000688306365159],
          [-0.100297862535278, -0.000253089415111, 0.994957423569774, 0.040114252923355]],
         [[0.988566083789001, 6.6507813216e-05, 0.150788240784183, 0.115348854789529],
          [-0.000108221541204, 0.999999958116276, 0.000268431639821, -0.000652076810187],
          [-0.150788216615808, -0.000281680950756, 0.98856604958175, 0.060507323573719]]]


def _rot_z(a: float) -> np.ndarray:
    return np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])


def _rot_y(a: float) -> np.ndarray:
    return np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])


def test_kabsch_keeps_its_pinned_fit_of_noisy_pairs():
    rng = np.random.default_rng(3)
    src = rng.normal(size=(6, 3))
    T = kabsch(src, src @ _rot_z(np.pi / 2).T + 0.1 * rng.normal(size=(6, 3)))
    np.testing.assert_allclose(T[:3], KABSCH, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(T[3], [0, 0, 0, 1])


def test_ransac_keeps_its_pinned_fit_and_inliers():
    rng = np.random.default_rng(4)
    src = rng.uniform(-1, 1, (40, 3))
    dst = src @ _rot_z(0.2).T + [0.1, -0.2, 0.3] + 0.002 * rng.normal(size=(40, 3))
    dst[:10] += rng.uniform(-0.5, 0.5, (10, 3))  # outliers
    T, inliers = ransac_rigid(src, dst, 0.01, np.random.default_rng(0))
    np.testing.assert_allclose(T[:3], RANSAC, rtol=0, atol=1e-9)
    np.testing.assert_array_equal(np.flatnonzero(inliers), np.arange(10, 40))


def test_camera_path_keeps_its_pinned_poses():
    rng = np.random.default_rng(5)
    t, k = 4, 40
    world = rng.uniform([-1, -1, 2], [1, 1, 4], (k, 3))
    xyz = np.stack([(world - [0.04 * f, 0, 0.02 * f]) @ _rot_y(0.05 * f) for f in range(t)], axis=1)
    xyz += 0.002 * rng.normal(size=(k, t, 3))
    xyz[:8] += np.linspace(0, 0.2, t)[None, :, None]  # a moving object
    est = estimate_poses(xyz, np.ones((k, t), bool), threshold_m=0.01)
    np.testing.assert_allclose(est[1:, :3], POSES, rtol=0, atol=1e-9)
