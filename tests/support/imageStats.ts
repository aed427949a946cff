/** Image statistics that tell a stylised picture from noise or flat colour. */
export interface Stats {
  std: number;
  /** Mean correlation of horizontally adjacent pixels: ~0 for noise, high for pictures. */
  neighbourCorrelation: number;
}

export function imageStats(rgb: ArrayLike<number>, width: number, height: number): Stats {
  const n = width * height;
  const lum = new Float64Array(n);
  for (let i = 0; i < n; i++) lum[i] = 0.299 * rgb[3 * i]! + 0.587 * rgb[3 * i + 1]! + 0.114 * rgb[3 * i + 2]!;
  let mean = 0;
  for (const v of lum) mean += v / n;
  let variance = 0;
  for (const v of lum) variance += (v - mean) ** 2 / n;
  let cov = 0;
  let count = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x + 1 < width; x++) {
      cov += (lum[y * width + x]! - mean) * (lum[y * width + x + 1]! - mean);
      count++;
    }
  }
  return { std: Math.sqrt(variance), neighbourCorrelation: cov / count / (variance || 1) };
}

/** Mean absolute per-channel difference of two same-sized RGB images (0..255). */
export function meanAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i]! - b[i]!);
  return s / a.length;
}

/** Mean absolute difference of the Cb and Cr channels (BT.601) of two RGB images (0..255). */
export function chromaDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const chroma = (r: number, g: number, bl: number) => [-0.168736 * r - 0.331264 * g + 0.5 * bl, 0.5 * r - 0.418688 * g - 0.081312 * bl] as const;
  let sum = 0;
  for (let i = 0; i < a.length; i += 3) {
    const [cbA, crA] = chroma(a[i]!, a[i + 1]!, a[i + 2]!);
    const [cbB, crB] = chroma(b[i]!, b[i + 1]!, b[i + 2]!);
    sum += Math.abs(cbA - cbB) + Math.abs(crA - crB);
  }
  return sum / ((a.length / 3) * 2);
}

/** Peak signal-to-noise ratio in dB of two same-sized 8-bit images. */
export function psnr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let se = 0;
  for (let i = 0; i < a.length; i++) se += (a[i]! - b[i]!) ** 2;
  const mse = se / a.length;
  return mse === 0 ? Infinity : 10 * Math.log10((255 * 255) / mse);
}
