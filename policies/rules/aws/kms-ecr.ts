/** KMS keys rotate; ECR repositories keep tags immutable and scan every push. */
import type { AwsRule } from '../../lib/types';
import { bool, get, str } from '../../lib/values';
import { ofType, unless } from './helpers';

const KMS_KEY = 'aws:kms/key:Key';
const ECR_REPOSITORY = 'aws:ecr/repository:Repository';

export const kmsKeyRotation: AwsRule = {
  kind: 'aws',
  name: 'kms-key-rotation',
  level: 'mandatory',
  description: 'Symmetric KMS keys rotate automatically.',
  remediation: 'Set enableKeyRotation: true (asymmetric and HMAC keys cannot rotate and are exempt).',
  rationale: 'Rotation limits how much data one compromised key version protects.',
  benchmark: 'AWS FSBP KMS.4; CIS AWS 3.6',
  appliesTo: ofType(KMS_KEY),
  check: (p) => {
    const spec = str(p.customerMasterKeySpec) ?? str(p.keySpec) ?? 'SYMMETRIC_DEFAULT';
    if (spec !== 'SYMMETRIC_DEFAULT') return [];
    return unless(bool(p.enableKeyRotation) === true, 'key rotation is off (enableKeyRotation must be true)');
  },
};

export const ecrImmutableTags: AwsRule = {
  kind: 'aws',
  name: 'ecr-immutable-tags',
  level: 'mandatory',
  description: 'ECR repositories make image tags immutable.',
  remediation: 'Set imageTagMutability: "IMMUTABLE"; publish every build under a new tag.',
  rationale: 'A mutable tag lets a push silently change what a pinned manifest runs.',
  benchmark: 'AWS FSBP ECR.2',
  appliesTo: ofType(ECR_REPOSITORY),
  check: (p) =>
    unless(
      (str(p.imageTagMutability) ?? 'MUTABLE').startsWith('IMMUTABLE'),
      'image tags are mutable (imageTagMutability must be IMMUTABLE)',
    ),
};

export const ecrScanOnPush: AwsRule = {
  kind: 'aws',
  name: 'ecr-scan-on-push',
  level: 'mandatory',
  description: 'ECR repositories scan every pushed image for vulnerabilities.',
  remediation: 'Set imageScanningConfiguration: { scanOnPush: true } (or enhanced scanning on the registry).',
  rationale: 'Known CVEs in the image are found at push time, before the image runs.',
  benchmark: 'AWS FSBP ECR.1; CIS EKS 5.1.1',
  appliesTo: ofType(ECR_REPOSITORY),
  check: (p) =>
    unless(
      bool(get(p, 'imageScanningConfiguration.scanOnPush')) === true,
      'scan on push is off (imageScanningConfiguration.scanOnPush must be true)',
    ),
};

export const kmsEcrRules: AwsRule[] = [kmsKeyRotation, ecrImmutableTags, ecrScanOnPush];
