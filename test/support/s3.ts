// The real S3 server of the test run. A test file that imports this module is an "S3 test file":
// scripts/run-tests.mjs sees the import, starts one Ceph RADOS Gateway for the whole run and passes
// its address in S3_TEST_ENDPOINT (credentials in S3_TEST_ACCESS_KEY/_SECRET_KEY).
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { S3Client } from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { createS3Client } from '../../src/data/s3.js';
import type { S3ClientOptions, S3Settings } from '../../src/data/s3.js';

function required(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(
      `${name} is not set: S3 tests need the Ceph RADOS Gateway that the test runner starts. ` +
        'Run them through `npm run test:unit -- <file filter>` (e.g. `npm run test:unit -- data/s3`), not directly.',
    );
  }
  return value;
}

/** Floyo's s3.* settings pointing at the test server. */
export function s3TestSettings(): S3Settings {
  return { region: 'us-east-1', endpoint: required('S3_TEST_ENDPOINT'), forcePathStyle: true };
}

export function s3TestCredentials(): { accessKeyId: string; secretAccessKey: string } {
  return { accessKeyId: required('S3_TEST_ACCESS_KEY'), secretAccessKey: required('S3_TEST_SECRET_KEY') };
}

/** A client made by Floyo's own createS3Client, with the test server's credentials. */
export function s3TestClient(options: S3ClientOptions = {}): S3Client {
  return createS3Client(s3TestSettings(), { credentials: s3TestCredentials(), ...options });
}

let bucketCounter = 0;

/** Creates a new, empty bucket with a name no other test (or parallel test process) uses. */
export async function freshBucket(client: S3Client, label = 'test'): Promise<string> {
  const tag = label.toLowerCase().replace(/[^a-z0-9-]/g, '-').slice(0, 30);
  const name = `floyo-${tag}-${process.pid}-${++bucketCounter}-${randomBytes(3).toString('hex')}`.replace(/-+/g, '-');
  await client.send(new CreateBucketCommand({ Bucket: name }));
  return name;
}

/** Puts many small objects with `concurrency` requests in flight. */
export async function putObjects(
  client: S3Client,
  bucket: string,
  objects: Iterable<{ key: string; body: string | Uint8Array }>,
  concurrency = 32,
): Promise<void> {
  const queue = [...objects];
  let next = 0;
  const worker = async () => {
    while (next < queue.length) {
      const { key, body } = queue[next++];
      // an explicit length: the SDK cannot tell the length of an empty body and warns about it
      const length = typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentLength: length }));
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, queue.length) }, worker));
}
