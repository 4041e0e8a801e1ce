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

    [Theory]
    [InlineData("tb_Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5")]
    [InlineData("q3Vh2Yh1dQ9xTuM3t0bJc6E8wqkq4oVZ0mJm3L8Y6hA=")]
    [InlineData("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08")]
    [InlineData("q3Vh2Yh1dQ9xTuM3t0bJc6E8wqkq4oVZ0mJm3L8Y6h_")]
    public void A_key_of_32_random_bytes_in_base64_base64url_or_hex_is_strong_enough(string key) =>
        Assert.Null(ApiKeySecrets.Weakness(key));

    [Theory]
    [InlineData("a")]
    [InlineData("")]
    [InlineData("tb_q3Vh2Yh1dQ9xTuM3t0bJc6E8wqkq4oVZ0mJm3L8Y6h")]
    [InlineData("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a0")]
    [InlineData("correct horse battery staple correct horse battery staple")]
    [InlineData("abababababababababababababababababababababababab")]
    public void A_shorter_non_base64_or_repetitive_key_is_too_weak(string key) =>
        Assert.NotNull(ApiKeySecrets.Weakness(key));

    [Fact]
    public void A_generated_secret_is_strong_enough()
    {
        for (var i = 0; i < 1000; i++)
        {
            Assert.Null(ApiKeySecrets.Weakness(ApiKeySecrets.NewSecret()));
        }
    }
}
