using TaskBudgets.Governance.Auth;

namespace TaskBudgets.Governance.Tests.Auth;

/// <summary>The stored form of a key: what a database written by any replica or version holds.</summary>
public sealed class ApiKeySecretsTests
{
    [Theory]
    [InlineData("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")]
    [InlineData("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")]
    public void A_secret_is_stored_as_the_lower_case_hex_sha256_of_its_utf8(string secret, string stored) =>
        Assert.Equal(stored, ApiKeySecrets.Hash(secret));

    [Fact]
    public void A_secret_longer_than_any_key_hashes_as_a_short_one_would()
    {
        var secret = ApiKeySecrets.Prefix + new string('é', 4 * ApiKeySecrets.MaxLength);

        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(secret))), ApiKeySecrets.Hash(secret));
    }

    [Fact]
    public void New_secrets_carry_the_prefix_and_differ()
    {
        var one = ApiKeySecrets.NewSecret();
        var two = ApiKeySecrets.NewSecret();

        Assert.StartsWith(ApiKeySecrets.Prefix, one, StringComparison.Ordinal);
        Assert.NotEqual(one, two);
        Assert.True(one.Length <= ApiKeySecrets.MaxLength);
    }
}
