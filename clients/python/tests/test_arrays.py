"""The client's direct .npy / .npz readers against numpy's own (no service needed)."""
import io
import unittest
import zipfile

import numpy as np

from saeserve.client import _plain_npy, _plain_npz, from_npy, from_npz, to_npy


def npy(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=False)
    return buf.getvalue()


def npz(compressed: bool = False, **arrays: np.ndarray) -> bytes:
    buf = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buf, **arrays)
    return buf.getvalue()


ARRAYS = {
    "values": np.random.default_rng(1).normal(size=(3, 5)).astype(np.float32),
    "indices": np.arange(15, dtype=np.int32).reshape(3, 5) - 1,
    "row": np.arange(7, dtype=np.float64),
    "empty": np.zeros((2, 0), dtype=np.float32),
    "scalar": np.array(2.5, dtype=np.float32),
    "wide": np.ones((1, 3, 2), dtype=np.float16),
    "flags": np.array([True, False]),
}


class ArraysTest(unittest.TestCase):
    def test_npy_read_directly_equals_np_load(self) -> None:
        for name, a in ARRAYS.items():
            direct = _plain_npy(memoryview(npy(a)))
            self.assertIsNotNone(direct, name)
            self.assertEqual((direct.dtype, direct.shape), (a.dtype, a.shape), name)
            np.testing.assert_array_equal(direct, a)
            self.assertTrue(direct.flags.writeable, name)

    def test_to_npy_writes_what_np_save_writes(self) -> None:
        for a in (np.zeros((1, 2304)), np.arange(6, dtype=np.float64).reshape(2, 3).T, np.ones(5),
                  np.ones((2, 0, 3)), np.float32(7)):
            self.assertEqual(to_npy(a), npy(np.ascontiguousarray(a, dtype="<f4")), np.shape(a))

    def test_npy_other_layouts_fall_back_to_numpy(self) -> None:
        f = np.asfortranarray(np.arange(6, dtype=np.float32).reshape(2, 3))
        big = np.arange(4, dtype=">f4")
        for a in (f, big):
            self.assertIsNone(_plain_npy(memoryview(npy(a))))
            np.testing.assert_array_equal(from_npy(npy(a)), a.astype(np.float32))
        self.assertIsNone(_plain_npy(memoryview(npy(ARRAYS["values"])[:-4])))  # truncated

    def test_npz_read_directly_equals_np_load(self) -> None:
        data = npz(**ARRAYS)
        direct = _plain_npz(data)
        self.assertIsNotNone(direct)
        self.assertEqual(set(direct), set(ARRAYS))
        for name, a in ARRAYS.items():
            self.assertEqual(direct[name].dtype, a.dtype, name)
            np.testing.assert_array_equal(direct[name], a)

    def test_npz_compressed_falls_back_and_corruption_raises(self) -> None:
        data = npz(compressed=True, **ARRAYS)
        self.assertIsNone(_plain_npz(data))
        np.testing.assert_array_equal(from_npz(data)["values"], ARRAYS["values"])
        stored = bytearray(npz(values=ARRAYS["values"]))
        stored[stored.index(b"NUMPY") + 130] ^= 0xFF  # a flipped byte inside the data
        with self.assertRaisesRegex(ValueError, "values.npy fails its CRC"):
            from_npz(bytes(stored))
        with self.assertRaises(zipfile.BadZipFile):
            from_npz(data[: len(data) // 2])  # cut short: numpy's reader says why


if __name__ == "__main__":
    unittest.main()
